// The terminal works without this file. With it: the field a card reader types into keeps
// the focus (keyboard-wedge readers type where the focus is), and the automatic logout counts
// down on screen. Written for old embedded browsers (ES5, no modules).
(function () {
  var field = document.getElementById('badge') || document.getElementById('pin') ||
    document.getElementById('login') || document.getElementById('token');
  if (field) {
    field.focus();
    if (field.id === 'badge') {
      // A tap on an empty part of the screen must not leave the reader typing into nothing.
      document.body.addEventListener('click', function (e) {
        var tag = e.target && e.target.tagName;
        if (tag !== 'A' && tag !== 'INPUT' && tag !== 'BUTTON') { field.focus(); }
      });
    }
  }
  var countdown = document.getElementById('auto-logout');
  if (countdown && countdown.getAttribute('data-seconds')) {
    var left = parseInt(countdown.getAttribute('data-seconds'), 10);
    var prefix = countdown.textContent.replace(/\s*\d+\s*s\s*$/, '');
    setInterval(function () {
      if (left > 0) { left -= 1; }
      countdown.textContent = prefix + ' ' + left + ' s';
    }, 1000);
  }
})();
