import { definePageStore } from './page'

export const useBacktests = definePageStore('backtests', '/api/backtests', 200)

/** `pairflow optimize` runs with their out-of-sample verdict (DSR, PBO). */
export const useOptimizeRuns = definePageStore('optimizeRuns', '/api/optimize-runs', 50)
