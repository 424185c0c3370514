// What every page does on mount: load its stores together, then start their live streams; the streams
// stop when the page is left, so a page nobody sees keeps no subscription open.
import { onMounted, onUnmounted } from 'vue'

export function loadWhileMounted(loads: (() => Promise<unknown>)[], lives: (() => () => void)[] = []): void {
  const stops: (() => void)[] = []
  onMounted(async () => {
    await Promise.all(loads.map((load) => load()))
    stops.push(...lives.map((live) => live()))
  })
  onUnmounted(() => stops.splice(0).forEach((stop) => stop()))
}
