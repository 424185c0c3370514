// The runs picked for comparison and their equity curves (fetched once per run).
import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'

export const useBacktestCompare = defineStore('backtestCompare', {
  state: () => ({ selected: [] as string[], curves: {} as Record<string, Schemas['EquityPoint'][]> }),
  getters: {
    /** Every picked run's curve is here: the charts draw only then, so they never show a half comparison. */
    ready: (state) => state.selected.every((id) => id in state.curves),
  },
  actions: {
    async pick(ids: string[]) {
      this.selected = ids
      const missing = ids.filter((id) => !(id in this.curves))
      const loaded = await Promise.all(missing.map((id) => get('/api/backtests/{run_id}/equity', {}, { run_id: id })))
      missing.forEach((id, index) => (this.curves[id] = loaded[index]))
    },
  },
})
