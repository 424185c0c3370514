import { defineStore } from 'pinia'
import { get, post, type Schemas } from '../api/client'

type Action = 'pause' | 'resume' | 'flatten' | 'halt' | 'scan'

export const useControls = defineStore('controls', {
  state: () => ({ health: null as Schemas['Health'] | null, message: '', audit: [] as Schemas['AuditRow'][] }),
  actions: {
    async load() {
      ;[this.health, this.audit] = await Promise.all([
        get('/api/health'),
        get('/api/audit', { limit: 20 }).then((page) => page.items),
      ])
    },
    async act(action: Action) {
      const path = `/api/controls/${action}` as '/api/controls/pause'
      const body = action === 'flatten' || action === 'halt' ? { confirm: true } : undefined
      try {
        const result = await post(path, body)
        this.message = `${result.action}: ok${result.detail ? ` — ${result.detail}` : ''}`
      } catch (error) {
        this.message = `${action} failed: ${(error as Error).message}`
      }
      await this.load()
    },
  },
})
