import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'
import { subscribe, type Row } from '../api/stream'

type Pnl = Schemas['PnlRow']

export const usePnl = defineStore('pnl', {
  state: () => ({ series: [] as Pnl[] }),
  getters: {
    last: (state): Pnl | null => state.series[state.series.length - 1] ?? null,
  },
  actions: {
    async load() {
      const page = await get('/api/pnl', { limit: 1000 })
      this.series = page.items
    },
    live(): () => void {
      return subscribe('pnl', (rows: Row[]) => {
        const fresh = (rows as unknown as Pnl[]).filter((row) => row.scope === 'portfolio')
        if (fresh.length) this.series = [...this.series, ...fresh].sort((a, b) => a.ts - b.ts).slice(-5000)
      })
    },
  },
})
