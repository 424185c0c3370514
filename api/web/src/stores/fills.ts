import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'

export const useFills = defineStore('fills', {
  state: () => ({ fills: [] as Schemas['FillRow'][], total: 0 }),
  actions: {
    async load() {
      const page = await get('/api/fills', { limit: 200 })
      this.fills = page.items
      this.total = page.total
    },
  },
})
