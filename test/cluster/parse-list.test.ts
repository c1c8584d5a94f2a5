// parseList: a list's JSON text with its items parsed one by one.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseList } from '../../src/cluster/api.ts'

function split(text: string): { rest: Record<string, unknown>; items: unknown[] } {
  const items: unknown[] = []
  const rest = parseList(text, (item) => items.push(item))
  return { rest, items }
}

describe('parseList', () => {
  test('items one by one, the other members as JSON.parse gives them', () => {
    const list = {
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: { resourceVersion: '7', continue: 'eyJ2Ijo}]["' },
      items: [
        { metadata: { name: 'a', annotations: { 'x/"quoted"': '{[\\\\', e: 'é ☃ \u0000' } }, spec: {} },
        { metadata: { name: 'b' }, list: [[], {}, [1, 2.5e3, true, false, null, '\\"']] },
        'text',
        -1.5,
        null,
      ],
      after: [1, { items: [9] }],
    }
    for (const text of [JSON.stringify(list), JSON.stringify(list, null, 2)]) {
      const { rest, items } = split(text)
      assert.deepEqual(items, list.items)
      const { items: _, ...others } = list
      assert.deepEqual(rest, others)
    }
  })

  test('empty and missing items, whitespace', () => {
    assert.deepEqual(split(' { "items" : [ ] , "metadata":{} } '), { rest: { metadata: {} }, items: [] })
    assert.deepEqual(split('{}'), { rest: {}, items: [] })
    assert.deepEqual(split('{"metadata":{"continue":""}}'), {
      rest: { metadata: { continue: '' } },
      items: [],
    })
    // items that are not an array are just another member.
    assert.deepEqual(split('{"items":null}'), { rest: { items: null }, items: [] })
  })

  test('malformed text is a SyntaxError, as JSON.parse would throw', () => {
    for (const bad of [
      '',
      '[]',
      '{"items":[{"a":1}',
      '{"items":[{"a":1},]}',
      '{"items":[{"a":}]}',
      '{"kind":"x"',
      '{"kind":"x"} trailing',
      '{"kind" "x"}',
      '{"kind":"unterminated}',
      '<html>502</html>',
    ]) {
      assert.throws(() => split(bad), SyntaxError, bad)
    }
  })
})
