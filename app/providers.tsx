'use client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { usePathname, useRouter } from 'next/navigation';
import { useEffect, useState, type ReactNode } from 'react';
import { LiveTopology } from '@/lib/liveTopology';
import { LiveTopologyContext } from '@/lib/liveTopologyContext';

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } }));
  const [live, setLive] = useState<LiveTopology | null>(null);
  const router = useRouter();
  const pathname = usePathname();
  const onSignIn = pathname === '/signin';

  useEffect(() => {
    if (onSignIn) return;
    const conn = new LiveTopology(queryClient);
    conn.start();
    setLive(conn);
    const off = conn.subscribe(() => {
      if (conn.getState() === 'unauthorized') router.replace(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
    });
    return () => {
      off();
      conn.stop();
    };
  }, [queryClient, router, onSignIn]);

  return (
    <QueryClientProvider client={queryClient}>
      <LiveTopologyContext.Provider value={live}>
        {children}
      </LiveTopologyContext.Provider>
    </QueryClientProvider>
  );
}
