import { Suspense } from 'react';
import { ServicesView } from '@/components/ServicesView';

export default function HomePage() {
  return (
    <Suspense>
      <ServicesView />
    </Suspense>
  );
}
