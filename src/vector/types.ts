// Gardener image vectors (gardener/gardener pkg/utils/imagevector): the data model. Field names and the
// "absent vs empty" distinction follow Go's ImageSource, where every field but `name` is a pointer.

/** One entry of an image vector, as Gardener decodes it. `undefined` is Go's nil; `''` is an empty string. */
export interface ImageSource {
  /** Logical name code looks up; several entries may share it with different constraints. Missing is ''. */
  name: string
  /** A full image reference, used instead of repository + tag. */
  ref?: string
  repository?: string
  /** A tag, `sha256:<hex>` (joined with `@`), or `tag@sha256:<hex>`. */
  tag?: string
  /** For display only (never a constraint). */
  version?: string
  /** Masterminds constraint on the Kubernetes version of the cluster the image runs in. */
  runtimeVersion?: string
  /** Masterminds constraint on the Kubernetes version the image acts on. */
  targetVersion?: string
  /** Absent means [amd64, arm64]; an explicit [] matches nothing. */
  architectures?: string[]
}

/** Where an entry (or a part of it, after a merge) was read. */
export interface Origin {
  /** The file as the user named it (or `<stdin>`). */
  file: string
  /** 1-based line of the entry in that file; undefined when it cannot be mapped (a folded string). */
  line?: number
  /** Index in that file's `images` list. */
  index: number
  /** `base` for the vector itself, `overwrite` for an overwrite file or a component's overwrite. */
  layer: 'base' | 'overwrite'
  /** Where inside the file the vector sits, e.g. `components[etcd-druid].imageVectorOverwrite`. */
  where?: string
  /** The entry exactly as read there (before any merge). */
  source: ImageSource
}

/** An entry plus what Gardener's reader drops: metadata and where it came from. */
export interface VectorEntry extends ImageSource {
  /**
   * `sourceRepository`, `labels`, `resourceId` and unknown keys, in file order, as read (for display and
   * `-o vector`; Gardener ignores them).
   */
  meta?: Record<string, unknown>
  /** The first origin defined the entry; later ones are overwrite entries merged into it. */
  origins?: Origin[]
}

/** What FindImage returns (Go's Image). */
export interface Image {
  name: string
  ref?: string
  repository?: string
  tag?: string
  version?: string
}

/** `caBundle` of a vector file (Gardener #15150): CA certificates for registries with a custom PKI. */
export interface CABundle {
  inline?: string
}

/** FindImage options; each can be left out. */
export interface FindOptions {
  runtimeVersion?: string
  targetVersion?: string
  architecture?: string
}

/** apimachinery field.Error types used by Gardener's validation, plus decoding and syntax problems. */
export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueTypeInvalid'
  | 'Syntax'

/** One problem with a vector file: Gardener's field path and detail, plus the line. */
export interface FieldIssue {
  type: FieldErrorType
  /** Field path, e.g. `images[3].tag` (`` for the whole document). */
  field: string
  detail: string
  /** The bad value, for Invalid errors (rendered like Go's %q for strings). */
  value?: unknown
  hasValue?: boolean
  /** 1-based line in the file, when known. */
  line?: number
  /** The entry's name, when it has one. */
  entry?: string
  /** Lines explaining a nested failure (a component overwrite that does not read). */
  causes?: string[]
}

/** Something worth telling the user that does not stop the run. */
export interface VectorWarning {
  message: string
  file?: string
  line?: number
}
