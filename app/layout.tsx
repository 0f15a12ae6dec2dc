import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { earlySocketScript } from '@/lib/earlySocket';
import { AppHeader } from '@/components/AppHeader';
import { SourceStatusStrip } from '@/components/SourceStatusStrip';
import { StaleBanner } from '@/components/StaleBanner';
import { Providers } from './providers';
import './globals.css';

export const metadata: Metadata = { title: 'Switchboard', description: 'Live service discovery dashboard' };

// Runs before paint so a dark-theme user never sees a white flash.
const themeBootstrap = `try{var t=localStorage.getItem('switchboard-theme');if(t!=='light'&&t!=='dark'){t=matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light'}document.documentElement.dataset.theme=t}catch(e){}`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeBootstrap }} />
        {/*
          Opens the live connection before the bundles load; LiveTopology adopts it (lib/earlySocket.ts).
          A classic inline script runs once the stylesheet is in (~150 ms); an async module script,
          tried first, ran only after the bundles had been evaluated (~500 ms), as late as hydration.
        */}
        <script dangerouslySetInnerHTML={{ __html: earlySocketScript }} />
      </head>
      <body>
        <Providers>
          <AppHeader />
          <SourceStatusStrip />
          <StaleBanner />
          <main className="main">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
