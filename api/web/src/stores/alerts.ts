import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'
import { subscribe, type Row } from '../api/stream'
import { mergeNewest } from '../logic'

export const useAlerts = defineStore('alerts', {
  state: () => ({ alerts: [] as Schemas['AlertRow'][], total: 0 }),
  actions: {
    async load() {
      const page = await get('/api/alerts', { limit: 200 })
      this.alerts = page.items
      this.total = page.total
    },
    live(): () => void {
      return subscribe('alerts', (rows: Row[]) => {
        this.alerts = mergeNewest(this.alerts, rows as unknown as Schemas['AlertRow'][], 200)
      })
    },
  },
})
