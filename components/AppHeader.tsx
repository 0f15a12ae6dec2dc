'use client';
import { usePathname } from 'next/navigation';
import { ConnectionIndicator } from './ConnectionIndicator';
import { IntentLink } from './IntentLink';
import { ThemeToggle } from './ThemeToggle';
import { UserMenu } from './UserMenu';

export function AppHeader() {
  const pathname = usePathname();
  const onGraph = pathname === '/graph';
  return (
    <header className="header">
      <IntentLink href="/" className="brand" aria-label="Switchboard home">
        Switch<span>board</span>
      </IntentLink>
      <nav aria-label="Views" className="header-nav" style={{ display: 'flex', gap: 14 }}>
        <IntentLink href="/services" aria-current={pathname === '/services' || pathname === '/' ? 'page' : undefined} data-testid="nav-services">
          Services
        </IntentLink>
        <IntentLink href="/graph" aria-current={onGraph ? 'page' : undefined} data-testid="nav-graph">
          Graph
        </IntentLink>
      </nav>
      <span className="spacer" />
      <ConnectionIndicator />
      <ThemeToggle />
      <UserMenu />
    </header>
  );
}
