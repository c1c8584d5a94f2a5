import assert from 'node:assert/strict'
import { RegistryError } from '../../src/registry/errors.ts'

/** Awaits a promise that must reject with a RegistryError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`)
    return error
  }
  assert.fail('expected the promise to reject')
}
