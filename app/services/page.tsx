import { Suspense } from 'react';
import { ServicesView } from '@/components/ServicesView';

/** The service list, always (the header's "Services"); `/` may open on the graph instead. */
export default function ServicesPage() {
  return (
    <Suspense>
      <ServicesView />
    </Suspense>
  );
}
