import net from 'node:net';

/** Options for {@link TcpProxy.start}. */
export interface TcpProxyOptions {
  /** Port on 127.0.0.1 the proxy forwards to. */
  target: number;
  /**
   * Cut a connection once it has carried this many bytes towards the target, the first time only (an upload
   * cut mid-stream). @default never
   */
  cutOnceAfterBytes?: number;
}

/**
 * A TCP proxy on 127.0.0.1 between one agent and the coordinator, for fault injection: {@link cut} ends every
 * connection it carries (the TLS session runs end to end through it, so both ends see a reset), and while
 * {@link down} is set it refuses new connections the same way. The target may change (a restarted coordinator).
 */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private cutCount = 0;
  private isDown = false;

  private constructor(
    private readonly server: net.Server,
    public readonly port: number,
    private target: number,
    private readonly cutOnceAfterBytes: number | undefined,
  ) {}

  /** Listens on 127.0.0.1, any free port. */
  static start(options: TcpProxyOptions): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined;
      const server = net.createServer((client) => proxy?.accept(client));
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        proxy = new TcpProxy(server, typeof addr === 'object' && addr !== null ? addr.port : 0, options.target, options.cutOnceAfterBytes);
        resolve(proxy);
      });
    });
  }

  /** Connections cut so far (by {@link cut}, the byte threshold, or refused while down). */
  cuts(): number {
    return this.cutCount;
  }

  /** Ends every open connection now; the agent sees its stream fail and reconnects. */
  cut(): number {
    let n = 0;
    for (const s of this.sockets) {
      s.destroy();
      n++;
    }
    this.sockets.clear();
    if (n > 0) this.cutCount++;
    return n;
  }

  /** While true, new connections are closed as soon as they open (a network partition); `true` also cuts the open ones. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) this.cut();
  }

  /** Forward to another port from the next connection on. */
  retarget(port: number): void {
    this.target = port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.isDown) {
      this.cutCount++;
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    let up = 0;
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      up += d.byteLength;
      if (this.cutOnceAfterBytes !== undefined && this.cutCount === 0 && up > this.cutOnceAfterBytes) {
        this.cutCount++;
        drop();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }
}

/** A port on 127.0.0.1 that was free a moment ago (for a coordinator that must keep its port across restarts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
