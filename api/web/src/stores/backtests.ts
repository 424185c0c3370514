import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'

export const useBacktests = defineStore('backtests', {
  state: () => ({ runs: [] as Schemas['BacktestRow'][], total: 0 }),
  actions: {
    async load() {
      const page = await get('/api/backtests', { limit: 200 })
      this.runs = page.items
      this.total = page.total
    },
  },
})
