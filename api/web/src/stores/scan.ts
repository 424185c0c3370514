import { definePageStore } from './page'

export const useScan = definePageStore('scan', '/api/scan', 1000)
