/* fieldreports story mode: follow each journey stop by stop.
 *
 * The page (maps/story.py) gives this script the Leaflet map, before its first view is set, and
 * a table of journeys:
 *   [[slug, layer, cluster or null, colour, [[lat, lon, number, areaRadiusM], ...]], ...]
 * in time order. Stop i's label is the text of the i-th link in the list of stops, its content
 * the <template id="fr-stop-i">. Field text is only ever read as text (textContent) and
 * written as text; nothing here builds HTML from it.
 *
 * Each stop has an address, #<journey-slug>/<number>. Opening a stop sets the address (a new
 * history entry), and the address opens the stop, so links from the feed open the map on their
 * stop and the back button walks back through the stops.
 */
(function () {
  "use strict";

  var SENTENCE_END = /[.!?\u2026\u3002\uff01\uff1f]["'\u201d\u2019)\]]*$/;

  function start(map, table, storyZoom) {
    var panel = document.getElementById("fr-panel");
    var bar = {
      prev: panel.querySelector(".fr-prev"),
      next: panel.querySelector(".fr-next"),
      play: panel.querySelector(".fr-play"),
      list: panel.querySelector(".fr-list-toggle"),
      position: panel.querySelector(".fr-position"),
    };
    var sheet = document.getElementById("fr-sheet");
    var sheetTitle = document.getElementById("fr-sheet-title");
    var sheetBody = sheet.querySelector(".fr-sheet-body");
    var links = panel.querySelectorAll(".fr-stops a[data-stop]");
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    var journeys = [];
    var stops = [];
    var byAddress = {};
    var current = null;      // the open stop
    var audio = null;        // its player
    var transcript = null;   // its interactive transcript, once loaded
    var playing = false;     // "play the journey" is on
    var pending = {};        // how the next opening by address should behave

    function msg(key, values) {
      var template = panel.getAttribute("data-msg-" + key) || "";
      return template.replace(/\{(\w+)\}/g, function (whole, name) {
        return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
      });
    }

    setUpControls();

    table.forEach(function (row) {
      var journey = { slug: row[0], layer: row[1], cluster: row[2], stops: [] };
      var markers = row[4].map(function (s) {
        var stop = {
          index: stops.length,
          journey: journey,
          number: s[2],
          latlng: L.latLng(s[0], s[1]),
          radius: s[3],
          label: links[stops.length] ? links[stops.length].textContent : String(s[2]),
        };
        stop.marker = makeMarker(stop, row[3]);
        journey.stops.push(stop);
        stops.push(stop);
        var address = journey.slug + "/" + stop.number;
        if (!byAddress[address]) byAddress[address] = stop;
        return stop.marker;
      });
      if (journey.cluster) journey.cluster.addLayers(markers);
      else markers.forEach(function (m) { journey.layer.addLayer(m); });
      journeys.push(journey);
    });

    function makeMarker(stop, colour) {
      var badge = document.createElement("span");
      badge.className = "fr-stop" + (stop.radius ? " fr-area" : "");
      badge.style.setProperty("--fr-colour", colour);
      badge.textContent = String(stop.number);
      var marker = L.marker(stop.latlng, {
        icon: L.divIcon({ html: badge, className: "fr-marker", iconSize: [26, 26], iconAnchor: [13, 13] }),
        keyboard: true,
      });
      var tip = document.createElement("span");
      tip.textContent = stop.label;
      marker.bindTooltip(tip, { direction: "top", offset: [0, -12] });
      marker.on("add", function () {
        var icon = marker.getElement();
        if (!icon) return;
        icon.setAttribute("aria-label", stop.label);
        icon.classList.toggle("fr-active", stop === current);
      });
      marker.on("click", function () { go(stop, { focus: true }); });
      // Leaflet makes each marker a button you can tab to; Enter or Space presses it.
      marker.on("keydown", function (event) {
        var key = event.originalEvent.key;
        if (key !== "Enter" && key !== " ") return;
        L.DomEvent.preventDefault(event.originalEvent);
        go(stop, { focus: true });
      });
      return marker;
    }

    function setUpControls() {
      L.control.zoom({ zoomInTitle: msg("zoom-in"), zoomOutTitle: msg("zoom-out") }).addTo(map);
      L.control.scale({ imperial: false }).addTo(map);
      map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
      var toggle = map.getContainer().querySelector(".leaflet-control-layers-toggle");
      if (toggle) {
        toggle.title = msg("layers");
        toggle.setAttribute("aria-label", msg("layers"));
      }
      var container = map.getContainer();
      container.setAttribute("role", "region");
      container.setAttribute("aria-label", msg("map"));
      // The panel changes the map's size (a bottom sheet on phones): keep Leaflet in step.
      if (window.ResizeObserver) {
        new ResizeObserver(function () { map.invalidateSize({ pan: false }); }).observe(container);
      }
    }

    // --- opening and closing stops -----------------------------------------------------------

    function address(stop) { return "#" + stop.journey.slug + "/" + stop.number; }

    function go(stop, options) {
      pending = options || {};
      if (location.hash === address(stop)) route(false);
      else location.hash = address(stop);  // a history entry; hashchange opens it
    }

    function route(initial) {
      var wanted = byAddress[decodeURIComponent(location.hash.slice(1))];
      var options = pending;
      pending = {};
      if (wanted === current && wanted && !sheet.hidden && !options.focus) return;  // seen already
      if (wanted) open(wanted, { animate: !initial, focus: options.focus });
      else if (current) close({ history: false });
    }

    function open(stop, options) {
      if (stop !== current) {
        pausePlayer();
        if (current && current.marker.getElement()) current.marker.getElement().classList.remove("fr-active");
        current = stop;
        if (stop.marker.getElement()) stop.marker.getElement().classList.add("fr-active");
        fill(stop);
      }
      links.forEach(function (a) { a.removeAttribute("aria-current"); });
      if (links[stop.index]) links[stop.index].setAttribute("aria-current", "true");
      show("stop");
      updateBar();
      if (!map.hasLayer(stop.journey.layer)) map.addLayer(stop.journey.layer);
      map.invalidateSize({ pan: false });
      moveTo(stop, options.animate && !reduceMotion);
      if (options.focus) sheetTitle.focus({ preventScroll: true });
      if (playing) playCurrent();
    }

    function close(options) {
      pausePlayer();
      setPlaying(false);
      var was = current;
      if (current && current.marker.getElement()) current.marker.getElement().classList.remove("fr-active");
      current = null;
      audio = null;
      transcript = null;
      sheetBody.replaceChildren();
      sheetTitle.textContent = "";
      links.forEach(function (a) { a.removeAttribute("aria-current"); });
      show("list");
      updateBar();
      if (options.history !== false && location.hash) {
        history.pushState(null, "", location.pathname + location.search);
      }
      if (options.focus && was && links[was.index]) links[was.index].focus();
    }

    function fill(stop) {
      sheetTitle.textContent = stop.label;
      var template = document.getElementById("fr-stop-" + stop.index);
      sheetBody.replaceChildren(template ? template.content.cloneNode(true) : "");
      sheetBody.scrollTop = 0;
      audio = sheetBody.querySelector("audio");
      transcript = null;
      if (audio) {
        audio.addEventListener("ended", onEnded);
        audio.addEventListener("pause", onPause);
        var words = sheetBody.querySelector(".fr-transcript[data-src]");
        if (words) loadTranscript(stop, words, audio);
      }
    }

    function show(view) {
      panel.setAttribute("data-view", view);
      sheet.hidden = view !== "stop";
      document.getElementById("fr-stops").hidden = view === "stop";
      bar.list.setAttribute("aria-expanded", view === "stop" ? "false" : "true");
    }

    function updateBar() {
      var list = current ? current.journey.stops : null;
      var at = current ? list.indexOf(current) : -1;
      bar.prev.disabled = !current || at === 0;
      bar.next.disabled = current ? at === list.length - 1 : stops.length === 0;
      bar.play.disabled = stops.length === 0;
      if (current) {
        var name = panel.querySelectorAll(".fr-journey")[journeys.indexOf(current.journey)];
        var heading = name ? name.querySelector("h2").textContent : "";
        bar.position.textContent =
          heading + " · " + msg("position", { position: at + 1, count: list.length }) + ": " + current.label;
      } else {
        bar.position.textContent = msg("choose");
      }
    }

    function moveTo(stop, animate) {
      var done = function () {
        if (stop.journey.cluster && current === stop) {
          // Inside a cluster: zoom in (or spread the cluster) until the marker shows.
          stop.journey.cluster.zoomToShowLayer(stop.marker, function () {});
        }
      };
      map.once("moveend", done);
      if (stop.radius) {
        // A sensitive stop: show its whole area, never closer.
        map.fitBounds(stop.latlng.toBounds(stop.radius * 2.4), { animate: animate, maxZoom: storyZoom });
      } else {
        map.setView(stop.latlng, Math.max(map.getZoom(), storyZoom), { animate: animate });
      }
    }

    function neighbour(stop, step) {
      var list = stop.journey.stops;
      return list[list.indexOf(stop) + step] || null;
    }

    function firstStop() {
      for (var i = 0; i < journeys.length; i++) {
        if (journeys[i].stops.length && map.hasLayer(journeys[i].layer)) return journeys[i].stops[0];
      }
      return stops[0] || null;
    }

    // --- play the journey --------------------------------------------------------------------

    function setPlaying(on) {
      playing = on;
      bar.play.setAttribute("aria-pressed", on ? "true" : "false");
    }

    function playCurrent() {
      if (!audio) return;
      var started = audio.play();
      if (started && started.catch) started.catch(function () { setPlaying(false); });
    }

    function pausePlayer() {
      if (audio && !audio.paused) audio.pause();
    }

    function onEnded(event) {
      if (!playing || !current || event.target !== audio) return;
      var next = neighbour(current, 1);
      if (next) go(next);
      else setPlaying(false);
    }

    function onPause(event) {
      // The listener paused the open stop: the journey stops with them. A report that ends
      // pauses too, and so does the one we leave (its event arrives once it is closed).
      if (playing && event.target === audio && !audio.ended) setPlaying(false);
    }

    // --- the interactive transcript ----------------------------------------------------------

    function loadTranscript(stop, section, player) {
      if (location.protocol === "file:") return;  // browsers refuse fetch() from a file
      fetch(section.getAttribute("data-src"))
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          if (current !== stop || audio !== player) return;  // the visitor moved on
          transcript = buildTranscript(section, data.segments || [], player);
        })
        .catch(function () { /* the excerpt stays */ });
    }

    function buildTranscript(section, segments, player) {
      var words = section.querySelector(".fr-words");
      var items = [];
      var sentence = null;
      segments.forEach(function (segment) {
        var body = String(segment.body || "").trim();
        var start = Number(segment.startTime);
        if (!body || !isFinite(start)) return;
        if (!sentence) {
          if (words.firstChild) words.appendChild(document.createTextNode(" "));
          sentence = document.createElement("span");
          sentence.className = "fr-sentence";
          sentence.tabIndex = 0;
          sentence.setAttribute("data-start", String(start));
          words.appendChild(sentence);
        } else {
          sentence.appendChild(document.createTextNode(" "));
        }
        var word = document.createElement("span");
        word.className = "fr-word";
        word.textContent = body;
        sentence.appendChild(word);
        items.push({ start: start, end: Number(segment.endTime) || start, node: word });
        if (SENTENCE_END.test(body)) sentence = null;
      });
      if (!items.length) return null;
      function seek(event) {
        var target = event.target.closest(".fr-sentence");
        if (!target) return;
        if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        player.currentTime = Number(target.getAttribute("data-start"));
        var started = player.play();
        if (started && started.catch) started.catch(function () {});
      }
      words.addEventListener("click", seek);
      words.addEventListener("keydown", seek);
      var excerpt = section.querySelector(".fr-excerpt");
      if (excerpt) excerpt.hidden = true;
      var hint = section.querySelector(".fr-hint");
      if (hint) hint.hidden = false;
      words.hidden = false;

      var lit = null;
      function highlight() {
        var t = player.currentTime;
        var lo = 0, hi = items.length - 1, found = -1;
        while (lo <= hi) {  // the last item that has started
          var mid = (lo + hi) >> 1;
          if (items[mid].start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
        }
        var item = found >= 0 && t <= Math.max(items[found].end, items[found].start) + 0.75 ? items[found] : null;
        if (item === lit) return;
        if (lit) lit.node.classList.remove("fr-now");
        lit = item;
        if (lit) lit.node.classList.add("fr-now");
      }
      var frame = 0;
      function tick() {
        highlight();
        frame = player.paused ? 0 : requestAnimationFrame(tick);
      }
      player.addEventListener("play", function () { if (!frame) frame = requestAnimationFrame(tick); });
      player.addEventListener("seeked", highlight);
      player.addEventListener("timeupdate", highlight);
      return { items: items, highlight: highlight };
    }

    // --- the controls ------------------------------------------------------------------------

    bar.next.addEventListener("click", function () {
      var next = current ? neighbour(current, 1) : firstStop();
      if (next) go(next);
    });
    bar.prev.addEventListener("click", function () {
      var prev = current ? neighbour(current, -1) : null;
      if (prev) go(prev);
    });
    bar.play.addEventListener("click", function () {
      if (playing) {
        setPlaying(false);
        pausePlayer();
        return;
      }
      setPlaying(true);
      if (current) playCurrent();
      else if (firstStop()) go(firstStop());
    });
    bar.list.addEventListener("click", function () {
      if (panel.getAttribute("data-view") === "list") {
        if (current) show("stop");
      } else {
        show("list");
        if (current && links[current.index]) links[current.index].focus();
      }
    });
    sheet.querySelector(".fr-close").addEventListener("click", function () {
      close({ focus: true });
    });
    links.forEach(function (a) {
      a.addEventListener("click", function (event) {
        var stop = stops[Number(a.getAttribute("data-stop"))];
        if (!stop) return;
        event.preventDefault();
        go(stop, { focus: true });
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && current && panel.contains(document.activeElement)) {
        close({ focus: true });
      }
    });
    window.addEventListener("hashchange", function () { route(false); });
    window.addEventListener("popstate", function () { route(false); });

    // The page's script goes on to set the map's first view; open the addressed stop after it.
    setTimeout(function () {
      route(true);
      updateBar();
      window.fieldreportsStory.ready = true;
    }, 0);
  }

  window.fieldreportsStory = { start: start, ready: false };
})();
