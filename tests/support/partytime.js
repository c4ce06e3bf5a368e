// Parse podcast feeds with podcast-partytime (a Podcasting 2.0 parser) and print what it found,
// as JSON, for tests/episodes/feed/test_parsers.py. Usage: node partytime.js FEED.xml...
"use strict";
const fs = require("fs");
const { parseFeed } = require("podcast-partytime");

const out = process.argv.slice(2).map((path) => {
  const feed = parseFeed(fs.readFileSync(path, "utf8"), { allowMissingGuid: false });
  if (!feed) {
    return { path, error: "not a feed" };
  }
  return {
    path,
    title: feed.title,
    guid: feed.guid,
    podroll: (feed.podroll || []).map((r) => ({ feedGuid: r.feedGuid, feedUrl: r.feedUrl })),
    items: feed.items.map((item) => ({
      guid: item.guid,
      title: item.title,
      enclosure: item.enclosure && item.enclosure.url,
      transcripts: (item.podcastTranscripts || []).map((t) => ({ url: t.url, type: t.type })),
      chapters: item.podcastChapters && item.podcastChapters.type,
      locations: item.podcastLocation ? [item.podcastLocation] : [],
    })),
  };
});
process.stdout.write(JSON.stringify(out));
