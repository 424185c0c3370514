// Pure helpers the pages share; unit-tested with Vitest (src/logic.test.ts).

export function fmt(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function signed(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return '–'
  return (value > 0 ? '+' : '') + fmt(value, digits)
}

export function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19)
}

/** SVG polyline points for a sparkline of `values` in a `width` x `height` box (flat series in the middle). */
export function sparkPoints(values: number[], width: number, height: number): string {
  if (values.length < 2) return ''
  const low = Math.min(...values)
  const high = Math.max(...values)
  const span = high - low || 1
  const step = width / (values.length - 1)
  return values
    .map((value, index) => {
      const y = high === low ? height / 2 : height - ((value - low) / span) * height
      return `${(index * step).toFixed(1)},${y.toFixed(1)}`
    })
    .join(' ')
}

/** Merge streamed rows into a newest-first list keyed by `id`, keeping at most `cap` rows. */
export function mergeNewest<T extends { id: string; ts: number }>(current: T[], incoming: T[], cap: number): T[] {
  const byId = new Map(current.map((row) => [row.id, row]))
  for (const row of incoming) byId.set(row.id, row)
  return [...byId.values()].sort((a, b) => b.ts - a.ts || (a.id < b.id ? -1 : 1)).slice(0, cap)
}

export interface SpreadLike {
  pair: string
  ts: number
  zscore: number
  hedge_ratio: number
  spread: number
  target: number
  reason: string
  recent_z: number[]
  signals: number
}

/** Apply streamed signal rows to the spread table: newer rows replace the state and extend the sparkline;
 *  a spread seen for the first time is added. */
export function applySignals<S extends SpreadLike>(
  spreads: S[],
  rows: { pair: string; ts: number; zscore: number; hedge_ratio: number; spread: number; target: number; reason: string }[],
  points = 60,
): S[] {
  const byPair = new Map(spreads.map((spread) => [spread.pair, { ...spread, recent_z: [...spread.recent_z] }]))
  for (const row of [...rows].sort((a, b) => a.ts - b.ts)) {
    if (!byPair.has(row.pair)) {
      const legs = row.pair.split('/')
      byPair.set(row.pair, { legs, half_life: null, ...row, ts: -Infinity, signals: 0, recent_z: [] } as unknown as S)
    }
    const spread = byPair.get(row.pair)!
    if (row.ts <= spread.ts) continue
    Object.assign(spread, {
      ts: row.ts, zscore: row.zscore, hedge_ratio: row.hedge_ratio, spread: row.spread,
      target: row.target, reason: row.reason, signals: spread.signals + 1,
    })
    spread.recent_z = [...spread.recent_z, row.zscore].slice(-points)
  }
  return [...byPair.values()].sort((a, b) => (a.pair < b.pair ? -1 : 1))
}

export interface Correlations {
  coins: string[]
  cell: (a: string, b: string) => number | null
}

/** The correlation matrix of the coins in a scan's pair rows (1 on the diagonal, null when not tested). */
export function correlationMatrix(rows: { coins: string[]; correlation: number }[]): Correlations {
  const values = new Map<string, number>()
  const coins = new Set<string>()
  for (const row of rows) {
    if (row.coins.length !== 2) continue
    const [a, b] = row.coins
    coins.add(a)
    coins.add(b)
    values.set(`${a}|${b}`, row.correlation)
    values.set(`${b}|${a}`, row.correlation)
  }
  return {
    coins: [...coins].sort(),
    cell: (a, b) => (a === b ? 1 : values.get(`${a}|${b}`) ?? null),
  }
}

/** Background colour of a correlation: blue for negative, red for positive, white at 0. */
export function heat(value: number | null): string {
  if (value === null) return '#eee'
  const level = Math.round(255 * (1 - Math.min(1, Math.abs(value))))
  return value >= 0 ? `rgb(255,${level},${level})` : `rgb(${level},${level},255)`
}

/** Drawdown series of an equity curve: equity minus its running peak (0 or negative). */
export function drawdown(equity: number[]): number[] {
  let peak = -Infinity
  return equity.map((value) => {
    peak = Math.max(peak, value)
    return value - peak
  })
}

/** A column of DataTable: a field shown as it is (its name is the heading), or a heading with how a row
 *  shows in it (`num` right-aligns numbers). */
/** A table column: a field shown as it is, or a label with the text (and, for a link, the address) of each row. */
export type Column<T> =
  | (keyof T & string)
  | { label: string; show: (row: T) => unknown; num?: boolean; href?: (row: T) => string }

/** The event time of a row, the first column of most tables. */
export const timeColumn = { label: 'time', show: (row: { ts: number }) => time(row.ts) }

/** The heading of a column. */
export function heading<T>(column: Column<T>): string {
  return typeof column === 'string' ? column : column.label
}

/** Lay `row` out along `columns`: the heading, the text, whether it is a number and any link, per column. */
export function cells<T>(row: T, columns: Column<T>[]): { label: string; text: unknown; num: boolean; href?: string }[] {
  return columns.map((column) =>
    typeof column === 'string'
      ? { label: column, text: row[column as keyof T], num: false }
      : { label: heading(column), text: column.show(row), num: column.num ?? false, href: column.href?.(row) },
  )
}

/** Curves of several runs on one time axis for one chart: the union of their times, null where a run has
 *  no point (uPlot leaves a gap). */
export function alignCurves(curves: { ts: number; value: number }[][]): { x: number[]; series: (number | null)[][] } {
  const x = [...new Set(curves.flatMap((curve) => curve.map((point) => point.ts)))].sort((a, b) => a - b)
  const index = new Map(x.map((ts, position) => [ts, position]))
  const series = curves.map((curve) => {
    const values: (number | null)[] = x.map(() => null)
    for (const point of curve) values[index.get(point.ts)!] = point.value
    return values
  })
  return { x, series }
}

type JobState = { id: string; started_ts: number; status: string; done: number }

/** How far a job got: a finished job is past any running state, a running one by its steps done. */
function progressOf(job: JobState): number {
  return job.status === 'running' ? job.done : Infinity
}

/** Keep each job's furthest state, newest launch first: a short run's stream rows may arrive before the
 *  answer to its launch, which must not turn it back to running. */
export function mergeJobs<J extends JobState>(current: J[], incoming: J[]): J[] {
  const byId = new Map(current.map((job) => [job.id, job]))
  for (const job of incoming) {
    const known = byId.get(job.id)
    if (!known || progressOf(job) >= progressOf(known)) byId.set(job.id, job)
  }
  return [...byId.values()].sort((a, b) => b.started_ts - a.started_ts)
}

/** The launch request of the backtest form: spreads split on commas, empty fields left to the server. */
export function launchBody(form: { name: string; spreads: string; interval: string; start: string; end: string; mode: string }) {
  const spreads = form.spreads.split(',').map((pair) => pair.trim()).filter(Boolean)
  return {
    name: form.name.trim(),
    spreads,
    mode: form.mode,
    ...(form.interval ? { interval: form.interval } : {}),
    ...(form.start.trim() ? { start: form.start.trim() } : {}),
    ...(form.end.trim() ? { end: form.end.trim() } : {}),
  }
}
