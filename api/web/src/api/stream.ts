// One WebSocket to /api/ws for the topics the open pages want; reconnects after a drop.
import { token } from './client'

export type Topic = 'signals' | 'orders' | 'fills' | 'pnl' | 'alerts' | 'backtests'
export type Row = Record<string, unknown>
type Listener = (rows: Row[]) => void

const listeners = new Map<Topic, Set<Listener>>()
let socket: WebSocket | null = null
let topicsOpen = ''
let retry: ReturnType<typeof setTimeout> | null = null

export function streamUrl(location: { protocol: string; host: string }, topics: string[], auth: string | null): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const query = new URLSearchParams({ topics: topics.join(',') })
  if (auth) query.set('token', auth)
  return `${scheme}://${location.host}/api/ws?${query}`
}

function reconnect(): void {
  const topics = [...listeners.entries()].filter(([, set]) => set.size).map(([topic]) => topic).sort()
  const key = topics.join(',')
  if (key === topicsOpen && socket) return
  socket?.close()
  socket = null
  topicsOpen = key
  if (!topics.length) return
  const opened = new WebSocket(streamUrl(window.location, topics, token()))
  opened.onmessage = (event) => {
    const message = JSON.parse(event.data) as { topic: Topic; rows: Row[] }
    listeners.get(message.topic)?.forEach((listener) => listener(message.rows))
  }
  opened.onclose = () => {
    if (socket !== opened) return
    socket = null
    topicsOpen = ''
    retry ??= setTimeout(() => {
      retry = null
      reconnect()
    }, 2000)
  }
  socket = opened
}

/** Call `listener` with each batch of new rows of `topic`; returns the unsubscribe function. */
export function subscribe(topic: Topic, listener: Listener): () => void {
  if (!listeners.has(topic)) listeners.set(topic, new Set())
  listeners.get(topic)!.add(listener)
  reconnect()
  return () => {
    listeners.get(topic)!.delete(listener)
    reconnect()
  }
}
