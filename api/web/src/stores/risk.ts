import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'

export const useRisk = defineStore('risk', {
  state: () => ({ exposure: [] as Schemas['Exposure'][], metrics: [] as Schemas['RiskRow'][] }),
  getters: {
    latest(state): Schemas['RiskRow'][] {
      const seen = new Map<string, Schemas['RiskRow']>()
      for (const row of state.metrics) {
        const key = `${row.scope}|${row.metric}|${row.confidence ?? ''}`
        if (!seen.has(key)) seen.set(key, row)
      }
      return [...seen.values()].sort((a, b) => a.metric.localeCompare(b.metric))
    },
  },
  actions: {
    async load() {
      ;[this.exposure, this.metrics] = await Promise.all([
        get('/api/exposure'),
        get('/api/risk', { limit: 200 }).then((page) => page.items),
      ])
    },
  },
})
