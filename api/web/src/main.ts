import { createPinia } from 'pinia'
import { createApp } from 'vue'
import { createRouter, createWebHistory } from 'vue-router'
import { setToken, token } from './api/client'
import App from './App.vue'
import './style.css'
import AlertsView from './views/AlertsView.vue'
import BacktestsView from './views/BacktestsView.vue'
import ControlsView from './views/ControlsView.vue'
import LoginView from './views/LoginView.vue'
import OrdersView from './views/OrdersView.vue'
import OverviewView from './views/OverviewView.vue'
import PositionsView from './views/PositionsView.vue'
import ScanView from './views/ScanView.vue'
import SettingsView from './views/SettingsView.vue'
import SpreadDetailView from './views/SpreadDetailView.vue'
import SpreadsView from './views/SpreadsView.vue'

// The demo prints /?token=...: keep it for this tab and drop it from the address bar.
const url = new URL(window.location.href)
if (url.searchParams.has('token')) {
  setToken(url.searchParams.get('token'))
  url.searchParams.delete('token')
  window.history.replaceState(null, '', url)
}

const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', component: OverviewView },
    { path: '/spreads', component: SpreadsView },
    { path: '/spreads/:pair(.*)', component: SpreadDetailView, props: true },
    { path: '/orders', component: OrdersView },
    { path: '/positions', component: PositionsView },
    { path: '/scan', component: ScanView },
    { path: '/backtests', component: BacktestsView },
    { path: '/alerts', component: AlertsView },
    { path: '/settings', component: SettingsView },
    { path: '/controls', component: ControlsView, meta: { token: true } },
    { path: '/login', component: LoginView },
  ],
})
router.beforeEach((to) => (to.meta.token && !token() ? '/login' : true))

createApp(App).use(createPinia()).use(router).mount('#app')
