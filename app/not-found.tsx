import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="empty">
      <p>There is no page here.</p>
      <Link href="/services">Back to all services</Link>
    </div>
  );
}
