// In-DingTalk free login (免登): ask the DingTalk client for a one-time code and post it back.
// Loaded only inside the DingTalk client; the page keeps working without it (plain button).
(function () {
  'use strict';
  var box = document.getElementById('free-login');
  var form = document.getElementById('free-login-form');
  if (!box || !form || !window.dd || !dd.runtime || !dd.runtime.permission) return;
  box.hidden = false;
  dd.ready(function () {
    dd.runtime.permission.requestAuthCode({
      corpId: box.getAttribute('data-corp-id'),
      onSuccess: function (info) {
        form.elements.code.value = info.code;
        form.submit();
      },
      onFail: function () {
        box.hidden = true;
      },
    });
  });
  dd.error(function () {
    box.hidden = true;
  });
})();
