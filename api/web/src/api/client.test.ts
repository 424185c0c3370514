import { describe, expect, it } from 'vitest'
import { linkWithToken } from './client'

describe('linkWithToken', () => {
  it('puts the token in the query, escaped, and leaves the path alone without one', () => {
    expect(linkWithToken('/api/backtests/r1/report', 'a+b/c')).toBe('/api/backtests/r1/report?token=a%2Bb%2Fc')
    expect(linkWithToken('/api/backtests/r1/report', null)).toBe('/api/backtests/r1/report')
  })
})
