import { definePageStore } from './page'

export const useOrders = definePageStore('orders', '/api/orders', 200, 'orders')
