// Backtests launched from the UI: the server's jobs over REST, their progress over the WebSocket.
import { defineStore } from 'pinia'
import { get, post, type Schemas } from '../api/client'
import { subscribe } from '../api/stream'
import { mergeJobs } from '../logic'

type Job = Schemas['BacktestJob']

export const useBacktestJobs = defineStore('backtestJobs', {
  state: () => ({ jobs: [] as Job[], message: '' }),
  actions: {
    async load() {
      this.jobs = await get('/api/backtest-jobs')
    },
    live(): () => void {
      return subscribe('backtests', (rows) => {
        this.jobs = mergeJobs(this.jobs, rows as unknown as Job[])
      })
    },
    async launch(body: Schemas['BacktestLaunch']) {
      try {
        const job = await post<Job>('/api/controls/backtest', body)
        this.jobs = mergeJobs(this.jobs, [job])
        this.message = `launched ${job.name}`
      } catch (error) {
        this.message = `launch failed: ${(error as Error).message}`
      }
    },
  },
})
