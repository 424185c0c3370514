import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'
import { subscribe, type Row } from '../api/stream'
import { applySignals } from '../logic'

type Signal = Schemas['SignalRow']

export const useSpreads = defineStore('spreads', {
  state: () => ({ spreads: [] as Schemas['SpreadState'][], detail: null as Schemas['SpreadDetail'] | null, error: '' }),
  actions: {
    async load() {
      try {
        this.spreads = await get('/api/spreads')
      } catch (error) {
        this.error = String(error)
      }
    },
    async loadDetail(pair: string) {
      this.detail = await get('/api/spreads/{pair}', { points: 600 }, { pair })
    },
    live(): () => void {
      return subscribe('signals', (rows: Row[]) => {
        const signals = rows as unknown as Signal[]
        this.spreads = applySignals(this.spreads, signals)
        const detail = this.detail
        if (detail) {
          const fresh = signals.filter((row) => row.pair === detail.state.pair && row.ts > detail.state.ts)
          if (fresh.length) {
            detail.series = [...detail.series, ...fresh].slice(-600)
            detail.state = applySignals([detail.state], fresh)[0]
          }
        }
      })
    },
  },
})
