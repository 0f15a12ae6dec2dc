'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { ConnectionIndicator } from './ConnectionIndicator';
import { ThemeToggle } from './ThemeToggle';
import { UserMenu } from './UserMenu';

export function AppHeader() {
  const pathname = usePathname();
  const onGraph = pathname === '/graph';
  return (
    <header className="header">
      <Link href="/" className="brand" aria-label="Switchboard home">
        Switch<span>board</span>
      </Link>
      <nav aria-label="Views" className="header-nav" style={{ display: 'flex', gap: 14 }}>
        <Link href="/services" aria-current={pathname === '/services' || pathname === '/' ? 'page' : undefined} data-testid="nav-services">
          Services
        </Link>
        <Link href="/graph" aria-current={onGraph ? 'page' : undefined} data-testid="nav-graph">
          Graph
        </Link>
      </nav>
      <span className="spacer" />
      <ConnectionIndicator />
      <ThemeToggle />
      <UserMenu />
    </header>
  );
}
