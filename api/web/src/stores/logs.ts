import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'

export const useLogs = defineStore('logs', {
  state: () => ({ logs: [] as Schemas['LogRow'][], level: '' }),
  actions: {
    async load() {
      const page = await get('/api/logs', { limit: 200, level: this.level || undefined })
      this.logs = page.items
    },
  },
})
