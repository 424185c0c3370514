// Typed access to the REST API: paths and bodies come from schema.d.ts, generated from our OpenAPI.
import type { components, paths } from './schema'

export type Schemas = components['schemas']
export type GetPath = { [P in keyof paths]: paths[P] extends { get: unknown } ? P : never }[keyof paths]
export type Ok<P extends GetPath> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer R } } } }
}
  ? R
  : never

const TOKEN_KEY = 'pairflow.token'

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

/** The address of a read the browser opens itself (a link cannot send the header): the token rides in the query. */
export function linkWithToken(path: string, value: string | null = token()): string {
  return value ? `${path}?token=${encodeURIComponent(value)}` : path
}

export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value)
  else sessionStorage.removeItem(TOKEN_KEY)
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

function headers(): Record<string, string> {
  const value = token()
  return value ? { Authorization: `Bearer ${value}` } : {}
}

async function answer<T>(response: Response): Promise<T> {
  if (!response.ok) {
    let detail = response.statusText
    try {
      const body = await response.json()
      detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail)
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, detail)
  }
  return (await response.json()) as T
}

/** GET a read endpoint; `path` may hold `{pair}` style parameters filled from `params`. */
export async function get<P extends GetPath>(
  path: P,
  query: Record<string, string | number | boolean | undefined> = {},
  params: Record<string, string> = {},
): Promise<Ok<P>> {
  let url = String(path).replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? '')
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value))
  if ([...search].length) url += `?${search}`
  return answer<Ok<P>>(await fetch(url, { headers: headers() }))
}

/** POST a control; the token is required for every one. */
export async function post<T = Schemas['ActionResult']>(path: keyof paths, body?: unknown): Promise<T> {
  const init: RequestInit = { method: 'POST', headers: { ...headers(), 'Content-Type': 'application/json' } }
  if (body !== undefined) init.body = JSON.stringify(body)
  return answer<T>(await fetch(String(path), init))
}
