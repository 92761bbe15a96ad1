/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * raw-send.c — the physical limit of the legacy → Matrix path: the same
 * sends the bridge makes (PUT /rooms/{room}/send/m.room.message/{txn} as a
 * ghost, with the appservice token), made sequentially by one libcurl easy
 * handle that keeps its connection alive, with nothing else in between.
 *
 *   raw-send HS_URL ROOM_ID AS_TOKEN USER_ID COUNT BODY_BYTES [TXN_PREFIX]
 *
 * Each body is {"msgtype":"m.text","body":"raw N ..."}, the body padded with the letter x
 * up to BODY_BYTES
 * (the size of the bridge's own bodies, measured by the caller), and the URL
 * carries ?user_id=…&ts=… like the bridge's (it massages timestamps).
 * Prints one line: "count=N seconds=S rate=R" (rate in events/s).  Exits 1
 * at the first non-200 answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define RAW_MAX_COUNT 1000000L
#define RAW_MAX_BODY 65536L

static size_t
discard (char *ptr, size_t size, size_t nmemb, void *userdata)
{
  (void) ptr;
  (void) userdata;
  return size * nmemb;
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long
parse_long (const char *s, long min, long max, const char *what)
{
  char *end = NULL;
  long v = strtol (s, &end, 10);
  if (end == s || *end != '\0' || v < min || v > max)
    {
      fprintf (stderr, "raw-send: bad %s: %s (%ld..%ld)\n", what, s, min, max);
      exit (2);
    }
  return v;
}

int
main (int argc, char **argv)
{
  if (argc < 7 || argc > 8)
    {
      fprintf (stderr, "usage: raw-send HS_URL ROOM_ID AS_TOKEN USER_ID COUNT BODY_BYTES "
                       "[TXN_PREFIX]\n");
      return 2;
    }
  const char *hs = argv[1], *room = argv[2], *token = argv[3], *user = argv[4];
  long count = parse_long (argv[5], 1, RAW_MAX_COUNT, "COUNT");
  long body_bytes = parse_long (argv[6], 0, RAW_MAX_BODY, "BODY_BYTES");
  const char *prefix = argc == 8 ? argv[7] : "raw";

  if (curl_global_init (CURL_GLOBAL_DEFAULT) != 0)
    return 1;
  CURL *c = curl_easy_init ();
  if (c == NULL)
    return 1;
  char *eroom = curl_easy_escape (c, room, 0);
  char *euser = curl_easy_escape (c, user, 0);
  char auth[4096];
  snprintf (auth, sizeof auth, "Authorization: Bearer %s", token);
  struct curl_slist *hdrs = curl_slist_append (NULL, auth);
  hdrs = curl_slist_append (hdrs, "Content-Type: application/json");
  /* No "Expect: 100-continue" round trip, as the bridge's client. */
  hdrs = curl_slist_append (hdrs, "Expect:");
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt (c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt (c, CURLOPT_TIMEOUT, 60L);

  char *body = malloc ((size_t) body_bytes + 128);
  char url[8192];
  if (body == NULL)
    return 1;
  long pid = (long) time (NULL);
  double t0 = now_s ();
  for (long i = 0; i < count; i++)
    {
      int n = snprintf (body, (size_t) body_bytes + 128,
                        "{\"msgtype\":\"m.text\",\"body\":\"raw %ld ", i);
      /* Pad inside the string so the JSON stays valid: n + pad + 2 closing chars. */
      long pad = body_bytes - n - 2;
      for (long k = 0; k < pad; k++)
        body[n + k] = 'x';
      n += pad > 0 ? (int) pad : 0;
      memcpy (body + n, "\"}", 3);
      struct timespec wall;
      clock_gettime (CLOCK_REALTIME, &wall);
      long long ts = (long long) wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
      snprintf (url, sizeof url,
                "%s/_matrix/client/v3/rooms/%s/send/m.room.message/%s-%ld-%ld"
                "?user_id=%s&ts=%lld",
                hs, eroom, prefix, pid, i, euser, ts);
      curl_easy_setopt (c, CURLOPT_URL, url);
      curl_easy_setopt (c, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
      CURLcode rc = curl_easy_perform (c);
      long status = 0;
      curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
      if (rc != CURLE_OK || status != 200)
        {
          fprintf (stderr, "raw-send: send %ld failed: %s, HTTP %ld\n", i,
                   curl_easy_strerror (rc), status);
          return 1;
        }
    }
  double dt = now_s () - t0;
  printf ("count=%ld seconds=%.3f rate=%.1f\n", count, dt, (double) count / dt);
  free (body);
  curl_free (eroom);
  curl_free (euser);
  curl_slist_free_all (hdrs);
  curl_easy_cleanup (c);
  curl_global_cleanup ();
  return 0;
}
