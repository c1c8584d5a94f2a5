// parseList: a list's JSON bytes with its items read one by one, whole or reduced to a pick.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type FieldPick, parseList } from '../../src/cluster/json-pick.ts'

function split(text: string, pick?: FieldPick): { rest: Record<string, unknown>; items: unknown[] } {
  const items: unknown[] = []
  const rest = parseList(Buffer.from(text), (item) => items.push(item), pick)
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

  test('a pick keeps only the members it names, on objects and on each element of arrays', () => {
    const pod = {
      metadata: {
        name: 'web-1',
        uid: 'u1',
        labels: { app: 'web' },
        managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': { '.': {} } } }],
        annotations: { 'kubectl-images.io/policy': "semver('>=1')", n: '1' },
        ownerReferences: [{ uid: 'rs', controller: true, kind: 'ReplicaSet', name: 'web' }],
      },
      spec: {
        containers: [
          { name: 'app', image: 'nginx:1.25', env: [{ name: 'A', value: 'x"}]' }] },
          { name: 'side', image: 'busybox\u00e9', ports: [] },
        ],
        volumes: [{ name: 'v', projected: { sources: [{}, []] } }],
        serviceAccountName: 'sa',
      },
      status: { phase: 'Running', containerStatuses: [{ name: 'app', imageID: 'x@sha256:1', ready: true }] },
    }
    const pick: FieldPick = {
      metadata: {
        name: true,
        uid: true,
        annotations: true,
        ownerReferences: { uid: true, controller: true },
      },
      spec: { containers: { name: true, image: true }, serviceAccountName: true, initContainers: true },
      status: { containerStatuses: { name: true, imageID: true } },
    }
    for (const text of [JSON.stringify({ items: [pod] }), JSON.stringify({ items: [pod] }, null, 2)]) {
      const { items } = split(text, pick)
      assert.deepEqual(items, [
        {
          metadata: {
            name: 'web-1',
            uid: 'u1',
            annotations: pod.metadata.annotations,
            ownerReferences: [{ uid: 'rs', controller: true }],
          },
          spec: {
            containers: [
              { name: 'app', image: 'nginx:1.25' },
              { name: 'side', image: 'busybox\u00e9' },
            ],
            serviceAccountName: 'sa',
          },
          status: { containerStatuses: [{ name: 'app', imageID: 'x@sha256:1' }] },
        },
      ])
    }
  })

  test('a picked member of an unexpected type is kept as sent; escapes and UTF-8 decode as JSON.parse does', () => {
    const pick: FieldPick = { spec: { containers: { name: true } }, metadata: { name: true } }
    const text =
      '{"items":[{"spec":null,"metadata":"odd"},{"spec":{"containers":"x"}},{"metadata":{"name":"a\\"b\\u00e9 é ☃"}}]}'
    assert.deepEqual(split(text, pick).items, JSON.parse(text).items)
    // A key spelled with escapes is the same member.
    assert.deepEqual(split('{"items":[{"metadata":{"na\\u006de":"x","other":1}}]}', pick).items, [
      { metadata: { name: 'x' } },
    ])
    const { rest } = split('{"__proto__":{"polluted":1},"items":[]}')
    assert.equal(Object.getPrototypeOf(rest), Object.prototype)
    assert.deepEqual(Object.keys(rest), ['__proto__'])
  })

  test('malformed text inside skipped members is still a SyntaxError where brackets or strings break', () => {
    const pick: FieldPick = { metadata: { name: true } }
    for (const bad of [
      '{"items":[{"spec":{"a":[1,2}}]}',
      '{"items":[{"spec":{"a":"unterminated}]}',
      '{"items":[{"spec":{"a":[1,2]}',
      '{"items":[{"spec":tru"e"}]}',
      '{"items":[{"spec":}]}',
    ]) {
      assert.throws(() => split(bad, pick), SyntaxError, bad)
    }
  })

  test('a skipped member nested deeper than the bracket stack starts is still checked bracket by bracket', () => {
    const pick: FieldPick = { metadata: { name: true } }
    const deep = `${'[{"a":'.repeat(100)}1${'}]'.repeat(100)}`
    assert.deepEqual(split(`{"items":[{"spec":${deep},"metadata":{"name":"x"}}]}`, pick).items, [
      { metadata: { name: 'x' } },
    ])
    const crossed = `${'[{"a":'.repeat(100)}1${'}]'.repeat(60)}]}${'}]'.repeat(39)}`
    assert.throws(() => split(`{"items":[{"spec":${crossed}}]}`, pick), SyntaxError)
  })
})
