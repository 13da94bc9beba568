"""What jobs make and users keep: resumes, job postings, optimizations (and pending uploads)."""
