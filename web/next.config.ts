import type { NextConfig } from "next";

// A static export served by FastAPI (app/web.py). trailingSlash makes every page a directory
// index (jobs/detail/index.html), which Starlette's StaticFiles can find; runtime ids travel in
// the query string (/jobs/detail/?id=…) because a static export cannot know them.
const nextConfig: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  poweredByHeader: false,
};

export default nextConfig;
