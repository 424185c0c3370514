import { definePageStore } from './page'

export const useFills = definePageStore('fills', '/api/fills', 200)
