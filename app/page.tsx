import { Suspense } from 'react';
import { LandingView } from '@/components/LandingView';

export default function HomePage() {
  return (
    <Suspense>
      <LandingView />
    </Suspense>
  );
}
