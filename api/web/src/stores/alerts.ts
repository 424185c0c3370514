import { definePageStore } from './page'

export const useAlerts = definePageStore('alerts', '/api/alerts', 200, 'alerts')
