import { describe, expect, it } from 'vitest'
import {
  alignCurves, applySignals, cells, correlationMatrix, drawdown, fmt, heat, heading, launchBody, mergeJobs, mergeNewest, signed,
  sparkPoints, timeColumn,
} from './logic'

describe('formatting', () => {
  it('formats numbers, signs and missing values', () => {
    expect(fmt(1234.567)).toBe('1,234.57')
    expect(fmt(null)).toBe('–')
    expect(signed(0.5)).toBe('+0.50')
    expect(signed(-2, 1)).toBe('-2.0')
  })
})

describe('sparkPoints', () => {
  it('spans the box from low to high', () => {
    expect(sparkPoints([0, 1, 2], 10, 4)).toBe('0.0,4.0 5.0,2.0 10.0,0.0')
  })
  it('draws a flat series in the middle and needs two points', () => {
    expect(sparkPoints([3, 3], 10, 4)).toBe('0.0,2.0 10.0,2.0')
    expect(sparkPoints([3], 10, 4)).toBe('')
  })
})

describe('mergeNewest', () => {
  it('replaces rows by id, sorts newest first and caps', () => {
    const rows = mergeNewest([{ id: 'a', ts: 1 }, { id: 'b', ts: 2 }], [{ id: 'a', ts: 3 }, { id: 'c', ts: 0 }], 2)
    expect(rows).toEqual([{ id: 'a', ts: 3 }, { id: 'b', ts: 2 }])
  })
})

describe('applySignals', () => {
  const spread = { pair: 'ETH/SOL', ts: 10, zscore: 0, hedge_ratio: 1, spread: 0, target: 0, reason: 'hold', recent_z: [0], signals: 1 }
  const row = (ts: number, zscore: number) => ({ pair: 'ETH/SOL', ts, zscore, hedge_ratio: 1.1, spread: 0.1, target: 1, reason: 'entry-long' })

  it('moves a spread to its newest signal and extends its sparkline', () => {
    const [next] = applySignals([spread], [row(12, -2.5), row(11, -2.1)])
    expect(next).toMatchObject({ ts: 12, zscore: -2.5, reason: 'entry-long', signals: 3 })
    expect(next.recent_z).toEqual([0, -2.1, -2.5])
    expect(spread.recent_z).toEqual([0])
  })
  it('ignores old rows and adds a spread seen for the first time', () => {
    const [next, added] = applySignals([spread], [row(9, 5), { ...row(20, 1), pair: 'X/Y' }])
    expect(next).toEqual(spread)
    expect(added).toMatchObject({ pair: 'X/Y', legs: ['X', 'Y'], ts: 20, zscore: 1, signals: 1, recent_z: [1], half_life: null })
  })
})

describe('correlationMatrix', () => {
  it('is symmetric with ones on the diagonal', () => {
    const matrix = correlationMatrix([
      { coins: ['ETH', 'SOL'], correlation: 0.8 },
      { coins: ['AAVE', 'UNI', 'LINK'], correlation: 0.9 },
    ])
    expect(matrix.coins).toEqual(['ETH', 'SOL'])
    expect(matrix.cell('SOL', 'ETH')).toBe(0.8)
    expect(matrix.cell('ETH', 'ETH')).toBe(1)
    expect(matrix.cell('ETH', 'BTC')).toBeNull()
  })
  it('colours by sign and strength', () => {
    expect(heat(1)).toBe('rgb(255,0,0)')
    expect(heat(-1)).toBe('rgb(0,0,255)')
    expect(heat(0)).toBe('rgb(255,255,255)')
    expect(heat(null)).toBe('#eee')
  })
})

describe('drawdown', () => {
  it('is the distance below the running peak', () => {
    expect(drawdown([1, 3, 2, 4, 1])).toEqual([0, 0, -1, 0, -3])
  })
})

describe('table cells', () => {
  it('shows a named field as it is and a declared column through its function', () => {
    const row = { ts: 0, coin: 'ETH', sz: 1.5 }
    const columns = [timeColumn, 'coin' as const, { label: 'size', show: (r: typeof row) => r.sz * 2, num: true }]
    expect(columns.map(heading)).toEqual(['time', 'coin', 'size'])
    expect(cells(row, columns)).toEqual([
      { label: 'time', text: '1970-01-01 00:00:00', num: false },
      { label: 'coin', text: 'ETH', num: false },
      { label: 'size', text: 3, num: true },
    ])
  })
  it('gives a link column the address of each row', () => {
    const link = { label: 'report', show: () => 'report', href: (r: { id: string }) => `/api/backtests/${r.id}/report` }
    expect(cells({ id: 'ab12' }, [link])).toEqual([
      { label: 'report', text: 'report', num: false, href: '/api/backtests/ab12/report' },
    ])
  })
})

describe('backtest comparison', () => {
  it('puts curves of different ranges on one axis with gaps', () => {
    const aligned = alignCurves([
      [{ ts: 1, value: 10 }, { ts: 3, value: 12 }],
      [{ ts: 2, value: 5 }, { ts: 3, value: 6 }],
    ])
    expect(aligned).toEqual({ x: [1, 2, 3], series: [[10, null, 12], [null, 5, 6]] })
  })
  it('keeps the furthest state of each job, newest launch first', () => {
    const merged = mergeJobs(
      [{ id: 'a', started_ts: 1, status: 'running', done: 5 }, { id: 'b', started_ts: 2, status: 'done', done: 9 }],
      [{ id: 'a', started_ts: 1, status: 'done', done: 9 }, { id: 'b', started_ts: 2, status: 'running', done: 0 }],
    )
    expect(merged.map((job) => [job.id, job.status])).toEqual([['b', 'done'], ['a', 'done']])
    const late = mergeJobs(merged, [{ id: 'a', started_ts: 1, status: 'running', done: 0 }])
    expect(late.find((job) => job.id === 'a')?.status).toBe('done')
  })
  it('sends only what the form sets', () => {
    const form = { name: ' run ', spreads: 'ETH/SOL, BTC/ETH,', interval: '', start: ' ', end: '2024-11-02', mode: 'spread' }
    expect(launchBody(form)).toEqual({ name: 'run', spreads: ['ETH/SOL', 'BTC/ETH'], mode: 'spread', end: '2024-11-02' })
  })
})
