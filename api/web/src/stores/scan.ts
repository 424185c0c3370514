import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'

export const useScan = defineStore('scan', {
  state: () => ({ rows: [] as Schemas['ScanRow'][], total: 0 }),
  actions: {
    async load() {
      const page = await get('/api/scan', { limit: 1000 })
      this.rows = page.items
      this.total = page.total
    },
  },
})
