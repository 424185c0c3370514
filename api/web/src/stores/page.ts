// One store shape for every paged list resource (alerts, orders, fills, backtests, scan rows): the newest
// page over REST, then, for resources the API streams, new rows merged in as they arrive.
import { defineStore } from 'pinia'
import { ref, type Ref } from 'vue'
import { get, type GetPath, type Ok } from '../api/client'
import { subscribe, type Row, type Topic } from '../api/stream'
import { mergeNewest } from '../logic'

type PagePath = { [P in GetPath]: Ok<P> extends { items: unknown[]; total: number } ? P : never }[GetPath]
type Item<P extends PagePath> = Ok<P> extends { items: (infer T)[] } ? T : never
type Keyed = { id: string; ts: number }

/** A store for the list at `path` (its first `limit` rows); `topic` adds `live()`, which keeps merging
 *  streamed rows in newest first, capped at `limit`, and returns the unsubscribe function. */
export function definePageStore<P extends PagePath>(id: string, path: P, limit: number, topic?: Topic) {
  return defineStore(id, () => {
    const rows = ref([]) as Ref<Item<P>[]>
    const total = ref(0)
    async function load(): Promise<void> {
      const page = (await get(path, { limit })) as { items: Item<P>[]; total: number }
      rows.value = page.items
      total.value = page.total
    }
    function live(): () => void {
      if (!topic) throw new Error(`the ${id} list is not streamed`)
      return subscribe(topic, (incoming: Row[]) => {
        const merged = mergeNewest(rows.value as unknown as Keyed[], incoming as unknown as Keyed[], limit)
        rows.value = merged as unknown as Item<P>[]
      })
    }
    return { rows, total, load, live }
  })
}
