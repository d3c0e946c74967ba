// Node 20 lacks Promise.withResolvers, which libp2p 3, noise, yamux and @libp2p/utils call.
// Without it every connection fails (EncryptionFailedError / ECONNRESET). Every entry point
// and the test loader import this module before anything touches libp2p.
const P = Promise as unknown as { withResolvers?: unknown }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
export {}
