import { defineStore } from 'pinia'
import { get, post } from '../api/client'

export type Params = { entry_z: number; exit_z: number; stop_z: number; notional_usd: number }

export const useConfig = defineStore('config', {
  state: () => ({ config: {} as Record<string, Record<string, unknown>>, message: '' }),
  actions: {
    async load() {
      this.config = (await get('/api/config')) as Record<string, Record<string, unknown>>
    },
    async change(params: Partial<Params>) {
      try {
        await post<Params>('/api/controls/params', params)
        this.message = 'saved'
        await this.load()
      } catch (error) {
        this.message = String((error as Error).message)
      }
    },
  },
})
