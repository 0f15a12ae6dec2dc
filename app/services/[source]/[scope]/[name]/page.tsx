import { ServiceDetail } from '@/components/ServiceDetail';

export default async function ServicePage({ params }: { params: Promise<{ source: string; scope: string; name: string }> }) {
  const { source, scope, name } = await params;
  return <ServiceDetail id={[source, scope, name].map(decodeURIComponent).join('/')} />;
}
