// Shows only the fields that apply to the chosen role: the tenant of a creditor's user,
// the tenants a supervisor, agent or legal user works. Without JavaScript every field
// shows, and the server still checks them.
document.querySelectorAll("form").forEach((form) => {
  const role = form.querySelector("select[name=role]");
  if (!role) return;
  const update = () => {
    form.querySelectorAll("[data-roles]").forEach((el) => {
      const roles = el.dataset.roles.split(" ");
      el.hidden = role.value !== "" && !roles.includes(role.value);
      // A hidden field is not sent, so it cannot hold back the form with an error no one sees.
      el.querySelectorAll("input, select").forEach((input) => { input.disabled = el.hidden; });
    });
  };
  role.addEventListener("change", update);
  update();
});
