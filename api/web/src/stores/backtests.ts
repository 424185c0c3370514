import { definePageStore } from './page'

export const useBacktests = definePageStore('backtests', '/api/backtests', 200)
