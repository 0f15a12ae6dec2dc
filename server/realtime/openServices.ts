/**
 * Which services someone has open right now (a dashboard page, a client watching a service's
 * detail), counted over every connection. A source gives each open service a watch of its own,
 * so a change to what someone is looking at does not wait behind the rest of a churning fleet
 * (ConsulSource.focus).
 */
export class OpenServices {
  private readonly counts = new Map<string, number>();

  /** `onChange(id, true)` when the first viewer opens a service, `(id, false)` when the last one leaves. */
  constructor(private readonly onChange: (serviceId: string, open: boolean) => void) {}

  open(serviceId: string): void {
    const n = (this.counts.get(serviceId) ?? 0) + 1;
    this.counts.set(serviceId, n);
    if (n === 1) this.onChange(serviceId, true);
  }

  close(serviceId: string): void {
    const n = this.counts.get(serviceId);
    if (n === undefined) return;
    if (n > 1) {
      this.counts.set(serviceId, n - 1);
      return;
    }
    this.counts.delete(serviceId);
    this.onChange(serviceId, false);
  }

  isOpen(serviceId: string): boolean {
    return this.counts.has(serviceId);
  }
}
