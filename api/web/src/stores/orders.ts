import { defineStore } from 'pinia'
import { get, type Schemas } from '../api/client'
import { subscribe, type Row } from '../api/stream'
import { mergeNewest } from '../logic'

export const useOrders = defineStore('orders', {
  state: () => ({ orders: [] as Schemas['OrderRow'][], total: 0 }),
  actions: {
    async load() {
      const page = await get('/api/orders', { limit: 200 })
      this.orders = page.items
      this.total = page.total
    },
    live(): () => void {
      return subscribe('orders', (rows: Row[]) => {
        this.orders = mergeNewest(this.orders, rows as unknown as Schemas['OrderRow'][], 200)
      })
    },
  },
})
