import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The built files are served by FastAPI at / (assets under /assets).
export default defineConfig({
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
})
