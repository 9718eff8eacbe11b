/**
 * Keys of sealed mode: a random 256-bit secret shared by server and client, stored as one line
 * of base64 in a file only its owner can read (`udplab keygen`). The key is held as a node:crypto
 * KeyObject, so it is never printed by accident; what people see is its key ID, a fingerprint that
 * lets two machines compare keys without showing them.
 */
import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCodes, UdplabError } from './errors.js';

/** Length of a key in bytes (256 bits: ChaCha20-Poly1305's key size). */
export const KEY_BYTES = 32;

/** A base64 key is 44 characters: 43 significant ones and one `=` of padding. */
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/** A sealing key: the secret (hidden in a KeyObject) and its public key ID. */
export class SealKey {
  readonly #secret: KeyObject;
  /**
   * A fingerprint of the key for people: the first 8 bytes of SHA-256("udplab key id\0" ‖ key) in
   * hex. Equal IDs mean equal keys (up to a 2^-64 accident); the ID reveals nothing of the key.
   */
  readonly id: string;

  private constructor(bytes: Uint8Array) {
    this.#secret = createSecretKey(bytes);
    this.id = createHash('sha256')
      .update('udplab key id\0')
      .update(bytes)
      .digest()
      .subarray(0, 8)
      .toString('hex');
  }

  /**
   * A key from its 32 raw bytes.
   * @throws RangeError when `bytes` is not 32 bytes long.
   */
  static fromBytes(bytes: Uint8Array): SealKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES)
      throw new RangeError(`key must be ${KEY_BYTES} bytes`);
    return new SealKey(bytes);
  }

  /** A new random key from the operating system's CSPRNG (node:crypto randomBytes). */
  static generate(): SealKey {
    return new SealKey(randomBytes(KEY_BYTES));
  }

  /** The key as node:crypto wants it for createCipheriv (internal to the codec). */
  get secret(): KeyObject {
    return this.#secret;
  }

  /** The key file's text: the base64 key and a newline. Handle with care: this is the secret. */
  toText(): string {
    return `${this.#secret.export().toString('base64')}\n`;
  }
}

/**
 * Parses a key file's text: one line of standard base64 that decodes to 32 bytes; surrounding white
 * space and a trailing newline are allowed.
 * @throws UdplabError KEY with a message that says what is wrong (never the key itself).
 */
export function parseKey(text: string): SealKey {
  const t = text.trim();
  if (!BASE64_KEY.test(t)) {
    throw new UdplabError(
      ErrorCodes.KEY,
      'not a udplab key: expected one line of base64 encoding 32 bytes (make one with: udplab keygen --out FILE)',
    );
  }
  return SealKey.fromBytes(Buffer.from(t, 'base64'));
}

/** What {@link readKeyFile} found besides the key. */
export interface KeyFileInfo {
  key: SealKey;
  /** Set when the file can be read by others than its owner (mode & 0o077): worth a warning. */
  tooOpen: boolean;
}

/**
 * The most bytes a key file may hold. A key file is one line of 45 bytes; the bound leaves room for
 * white space (CRLF, a trailing blank line) and refuses anything else before reading it whole.
 */
export const MAX_KEY_FILE_BYTES = 4096;

/** What a file that is not a regular file is, in words: `a FIFO (named pipe)`. */
function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** The KEY error for a key file that is not a regular file (see {@link readKeyFile}). */
function notRegular(path: string, st: Stats): UdplabError {
  return new UdplabError(
    ErrorCodes.KEY,
    `cannot read key file ${path}: it is ${fileKind(st)}, not a regular file`,
  );
}

/**
 * Reads and parses a key file. Only a regular file (or a symbolic link to one) is read, and only up
 * to {@link MAX_KEY_FILE_BYTES}: the file is checked with stat(2) before it is opened, because
 * opening a FIFO with no writer blocks for ever (in a libuv thread that not even a signal can
 * free: test/key-files.test.ts), and opening a device can have effects of its own. It is then opened
 * non-blocking and checked again through the open descriptor, so a file swapped in between cannot
 * block either.
 * @example
 * const { key, tooOpen } = await readKeyFile('lab.key');
 * const server = await createServer({ host: '127.0.0.1', port: 1060, key });
 * @throws UdplabError KEY when the file is missing, unreadable, not a regular file, larger than
 * {@link MAX_KEY_FILE_BYTES} or not a key.
 */
export async function readKeyFile(path: string): Promise<KeyFileInfo> {
  let text: string;
  let mode: number;
  try {
    const before = await stat(path);
    if (!before.isFile()) throw notRegular(path, before);
    if (before.size > MAX_KEY_FILE_BYTES) throw tooBig(path);
    // O_NONBLOCK: a no-op for a regular file; for a FIFO swapped in since stat, open returns at once.
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notRegular(path, st);
      if (st.size > MAX_KEY_FILE_BYTES) throw tooBig(path);
      mode = st.mode;
      // Read at most one byte past the bound: a file that grew after fstat is still caught.
      const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n === buf.length) throw tooBig(path);
      }
      text = buf.toString('utf8', 0, n);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof UdplabError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (err as Error).message;
    throw new UdplabError(ErrorCodes.KEY, `cannot read key file ${path}: ${why}`, { cause: err });
  }
  let key: SealKey;
  try {
    key = parseKey(text);
  } catch (err) {
    throw new UdplabError(
      ErrorCodes.KEY,
      `key file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return { key, tooOpen: process.platform !== 'win32' && (mode & 0o077) !== 0 };
}

/** The KEY error for a key file above {@link MAX_KEY_FILE_BYTES}. */
function tooBig(path: string): UdplabError {
  return new UdplabError(
    ErrorCodes.KEY,
    `cannot read key file ${path}: it is larger than ${String(MAX_KEY_FILE_BYTES)} bytes (a key file is one line of 45 bytes)`,
  );
}

/** Options of {@link writeKeyFile}. */
export interface WriteKeyOptions {
  /** Replace an existing file. Default false: an existing file is never overwritten. */
  force?: boolean;
}

/**
 * Writes a key file readable and writable by its owner only (mode 0600). Without `force` the file
 * is created exclusively (O_EXCL), so an existing key is never lost; with `force` the key goes to a
 * new 0600 file beside it that then replaces it (rename is atomic, and the new file's mode does not
 * depend on the old one's). Only a regular file is ever replaced: a path that is a symbolic link, a
 * FIFO, a socket or a device is refused, `force` or not (it is judged with lstat(2), so a link is
 * never followed; before, `--force` renamed a file over /dev/full: test/key-files.test.ts).
 * @example
 * await writeKeyFile('lab.key', SealKey.generate()); // udplab keygen --out lab.key
 * @throws TypeError when `path` is empty or a directory.
 * @throws UdplabError KEY when the file exists (without `force`), is not a regular file, or cannot
 * be written.
 */
export async function writeKeyFile(
  path: string,
  key: SealKey,
  options: WriteKeyOptions = {},
): Promise<void> {
  if (path.trim() === '') throw new TypeError('key file path must not be empty');
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isDirectory()) {
    throw new TypeError(`${path} is a directory: give the path of the key file to write`);
  }
  if (existing !== undefined && !existing.isFile()) {
    throw new UdplabError(
      ErrorCodes.KEY,
      `cannot write key file ${path}: it is ${fileKind(existing)}, not a regular file; not replacing it (remove it first, or choose another path)`,
    );
  }
  const target = options.force
    ? join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
    : path;
  try {
    const fh = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await fh.writeFile(key.toText(), 'utf8');
      await fh.chmod(0o600); // the umask may have removed bits, never added them; be explicit
    } finally {
      await fh.close();
    }
    if (options.force) await rename(target, path);
  } catch (err) {
    if (options.force) await rm(target, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && !options.force) {
      throw new UdplabError(
        ErrorCodes.KEY,
        `${path} exists already: not overwriting a key (use --force to replace it)`,
        { cause: err },
      );
    }
    // ENOENT with the folder there: a file system that takes no new files (/proc, /sys).
    const why =
      code === 'ENOENT' && (await stat(dirname(path)).catch(() => undefined))?.isDirectory()
        ? 'its folder does not take new files'
        : describeFsError(err);
    throw new UdplabError(ErrorCodes.KEY, `cannot write key file ${path}: ${why}`, { cause: err });
  }
}

/** A file-system error in plain words (no syscall names or paths repeated). */
function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'its folder does not exist',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENAMETOOLONG: 'the name is too long',
    ELOOP: 'too many symbolic links in the path',
    EDQUOT: 'the disk quota is exceeded',
  };
  if (code !== undefined && words[code] !== undefined) return words[code];
  // Anything else: Node's text without the syscall and path it repeats (`EIO: i/o error, open 'x'`).
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/, \w+ '.*'$/s, '');
}
