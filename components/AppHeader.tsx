'use client';
import Link from 'next/link';
import { ConnectionIndicator } from './ConnectionIndicator';
import { ThemeToggle } from './ThemeToggle';
import { UserMenu } from './UserMenu';

export function AppHeader() {
  return (
    <header className="header">
      <Link href="/" className="brand" aria-label="Switchboard home">
        Switch<span>board</span>
      </Link>
      <span className="spacer" />
      <ConnectionIndicator />
      <ThemeToggle />
      <UserMenu />
    </header>
  );
}
