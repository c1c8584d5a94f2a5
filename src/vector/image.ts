// Image and ImageSource behaviour from gardener/gardener pkg/utils/imagevector/imagevector.go:
// ToImage, Image.String, WithOptionalTag, ImageMapToValues.
import type { Image, ImageSource } from './types.ts'

export const SHA256_TAG_PREFIX = 'sha256:'

/**
 * ToImage: a ref entry gives {ref, version}; otherwise the entry's tag, or `v` + the target version (all leading
 * `v`s trimmed, the raw string) when the entry has none and a target version is given. version defaults to the tag.
 */
export function toImage(source: ImageSource, targetVersion?: string): Image {
  if (source.ref !== undefined) {
    const image: Image = { name: source.name, ref: source.ref }
    if (source.version !== undefined) image.version = source.version
    return image
  }
  let tag = source.tag
  if (tag === undefined && targetVersion !== undefined) tag = `v${targetVersion.replace(/^v+/, '')}`
  const image: Image = { name: source.name }
  if (source.repository !== undefined) image.repository = source.repository
  if (tag !== undefined) image.tag = tag
  const version = source.version ?? tag
  if (version !== undefined) image.version = version
  return image
}

/** Image.String: the ref; '' without a repository; the bare repository without a tag; else repo + `:`|`@` + tag. */
export function imageString(image: Pick<Image, 'ref' | 'repository' | 'tag'>): string {
  if (image.ref !== undefined) return image.ref
  if (image.repository === undefined) return ''
  if (image.tag === undefined) return image.repository
  return image.repository + (image.tag.startsWith(SHA256_TAG_PREFIX) ? '@' : ':') + image.tag
}

/** WithOptionalTag: sets the tag only when the image has neither a ref nor a tag (Gardener's own components). */
export function withOptionalTag(image: Image, tag: string): Image {
  if (image.ref === undefined && image.tag === undefined) return { ...image, tag }
  return image
}

/** ImageMapToValues: name -> image string, as Gardener hands images to charts. */
export function imageMapToValues(images: Readonly<Record<string, Image>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, image] of Object.entries(images)) out[key] = imageString(image)
  return out
}
